package ortlib

// Version is the ONNX Runtime release imagegen installs when no library is
// configured.
const Version = "1.29.0"
