"""Other frameworks: Keras and ONNX conventions (``conventions``), weights carried across
(``carry``) and the ``layout`` command (``layout``)."""
