"""Private core: specs, registry, validation, reduction, numerics and the Module base."""
