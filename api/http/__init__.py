"""HTTP plumbing around the routes: middleware, problem answers, the OpenAPI
document, the answers' shapes, cursors and the readers' tokens."""
