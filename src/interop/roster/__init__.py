"""The tenant's roster repository (OneRoster data a collection filled) and its read API."""
