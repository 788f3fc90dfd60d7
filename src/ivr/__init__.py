"""Call handling for the 115 and the SI SIAO assistance line."""
