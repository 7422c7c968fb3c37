/** A tenant's OpenAPI document (or the selection made from it) cannot be used; the message says why. */
export class OpenApiDocumentError extends Error {
  override readonly name = 'OpenApiDocumentError';
}

/** A call's arguments cannot be turned into a request that stays inside the registered API. */
export class OpenApiRequestError extends Error {
  override readonly name = 'OpenApiRequestError';
}
