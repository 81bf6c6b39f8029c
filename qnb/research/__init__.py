"""The research harness: the studies and benchmarks behind the notebooks, the widgets, the design
document's own tables and its defects. It builds on the core (``import qnb``); the core never
imports it."""
