"""The classifier service: level-1 category by a trained model, level 2/3 and Monthly Question by rules."""
