"""What every layer shares: typed models, domain errors, roles, Danish text handling,
sentence splitting, the decision vocabulary and the retrieval configuration. Imports
nothing from the rest of the project."""
