// SVModels: see README.md in this folder.
