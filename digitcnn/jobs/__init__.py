"""Running trainings and fine-tunings for many users at once: the job board (:mod:`~digitcnn.jobs.board`), the warm
worker processes they run in (:mod:`~digitcnn.jobs.process_training`), a Ray cluster instead
(:mod:`~digitcnn.jobs.ray_training`), and a fine-tune of a saved model as a job's work
(:mod:`~digitcnn.jobs.teaching`). Built on everything below it.

This ``__init__`` imports nothing: a worker started as ``python -m digitcnn.jobs.process_training`` would otherwise
import its own module twice, once through the package and once as ``__main__``."""
