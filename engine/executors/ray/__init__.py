"""The Ray executor: steps run on a Ray cluster; outputs travel through the object store."""
