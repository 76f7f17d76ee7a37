"""Staff single sign-on through an OpenID Connect provider: identities linked to staff accounts."""
