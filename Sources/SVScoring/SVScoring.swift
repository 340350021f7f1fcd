// SVScoring: see README.md in this folder.
