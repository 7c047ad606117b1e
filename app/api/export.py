"""Print the SDL: `make schema` writes it to graphql/schema.graphql."""

from app.api.schema import sdl

if __name__ == "__main__":
    print(sdl(), end="")
