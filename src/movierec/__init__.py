"""movie-recommender: MovieLens to served, monitored recommendations."""
