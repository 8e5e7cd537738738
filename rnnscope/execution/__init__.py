"""Torch at run time: the quiet import and devices (``runtime``), building and running a layer
(``probe``), and the textbook recurrences that check it (``reference``)."""
