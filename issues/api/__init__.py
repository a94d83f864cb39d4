"""The project's report API under /api/, shaped like issues/open311/: `params` (reading input),
`documents` (rows -> JSON), `schema` (shapes for the OpenAPI schema), `views` (thin), `urls`."""
