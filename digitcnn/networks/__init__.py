"""The networks: their architectures and training recipes, and what scores and calibrates what they say
(evaluation, temperature). Built on :mod:`digitcnn.data`; reading and training build on this."""
