"""The colourisation networks (MLP, fusion CNN, ResNet prior) and their checkpoint format.

Every colouriser maps normalised lightness (N, 1, H, W), L*/100, to a*b* in Lab
units (N, 2, H, W) plus optional class logits, so one pipeline serves them all.
"""
