"""Reading files without trusting them: pickles walked statically (``pickle_reader``), tensor bytes
(``tensor_bytes``), containers and formats (``reader``), the layers the keys describe
(``discovery``), ``--expect`` (``expectation``) and the ``load`` command (``loading``)."""
