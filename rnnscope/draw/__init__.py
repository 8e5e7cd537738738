"""The picture: what is drawn (``content``), where it goes as numbers (``geometry``), and the SVG
and PNG it becomes (``svg``)."""
