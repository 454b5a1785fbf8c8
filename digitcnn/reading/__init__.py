"""Reading one picture or many with a network: probabilities, the LiteRT :class:`~digitcnn.reading.inference.Predictor`,
reading with three pens, saying "not a digit", and looking inside a reading. Built on :mod:`digitcnn.networks`."""
