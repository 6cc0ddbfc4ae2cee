"""The flow document: model, parser, field readers, graph checks, SVG drawing, JSON schema."""
