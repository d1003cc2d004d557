"""Time from the calculator's counts: training FLOPs and MFU, roofline probes, the data-parallel cost model."""
