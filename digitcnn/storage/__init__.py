"""Saved models: the model file, its card and its record of the images it trained on, kept together; built on
everything below it (data, networks, reading, training), which it saves and loads.

``card`` (the model card's format and checks) < ``atomic_save`` (writing a model, its record and its card
together, and finishing what a killed save left) < ``registry`` (saving, loading and listing models: what
callers use) < ``export`` (a saved model as a file to take anywhere: Keras, LiteRT, or a zip of both)."""
