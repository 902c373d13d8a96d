"""Neural estimators of section 3 and 4.4: the Recurrent Inference Machine and the ResNet baseline."""
