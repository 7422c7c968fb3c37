export { buildRequest, type OutboundRequest } from './build-request';
export type {
  HttpMethod,
  OpenApiDocument,
  OpenApiOperation,
  OpenApiParameter,
  OpenApiRequestBody,
  ParameterLocation,
} from './document';
export { OpenApiDocumentError, OpenApiRequestError } from './errors';
export { OPENAPI_LIMITS } from './limits';
export { loadOpenApiDocument } from './load-document';
export {
  operationTools,
  RESERVED_HEADER_PARAMETERS,
  type OpenApiOperationTool,
  type OpenApiToolParameter,
  type OperationSelection,
  type OperationTools,
} from './operation-tools';
export { toToolResult, type ToolCallResultLike } from './tool-result';
