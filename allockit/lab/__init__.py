"""The real-kernel lab (issue 7): the same experiments on a real Linux kernel under QEMU."""
