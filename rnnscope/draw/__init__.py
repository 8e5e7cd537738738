"""The picture: what is drawn (``content``), its grid as numbers (``grid``), where everything goes
on it (``geometry``), and the SVG and PNG it becomes (``svg``)."""
