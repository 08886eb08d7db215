"""Looking inside a trained network: filters and feature maps, Grad-CAM and friends, the map of what it learned,
reading drawings, the convolution explainer, and the charts."""
