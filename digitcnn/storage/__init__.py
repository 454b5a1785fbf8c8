"""Saved models: the model file, its card and its record of the images it trained on, kept together; built on
everything below it (data, networks, reading, training), which it saves and loads."""
