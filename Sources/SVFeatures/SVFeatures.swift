// SVFeatures: see README.md in this folder.
