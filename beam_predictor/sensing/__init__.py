"""Per-modality signal processing shared by preprocessing, visualisation and the nodes."""
