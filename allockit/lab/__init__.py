"""The real-kernel lab: the same experiments on a real Linux kernel under QEMU."""
