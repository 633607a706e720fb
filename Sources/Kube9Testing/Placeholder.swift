enum PlaceholderKube9Testing {}
