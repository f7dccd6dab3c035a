"""Data for training and evaluation: the offline real sources and what is made from them."""
