"""What the rest of the machine does meanwhile: synthetic kernel build, trace statistics, replay."""
