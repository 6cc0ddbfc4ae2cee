"""Speech models as data: archive unpacking, layout recognition, installed models and their manifests."""
