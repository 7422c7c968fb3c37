import { applyDecorators, Controller } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { Authenticated } from '@app/auth';

/** A controller of one tenant's resources under `admin/tenants/:tenant/<path>`, for its admins. */
export const TenantAdminController = (tag: string, path: string) =>
  applyDecorators(
    ApiTags(tag),
    ApiParam({ name: 'tenant', description: 'tenant slug' }),
    Authenticated('tenant-admin'),
    Controller(`admin/tenants/:tenant/${path}`),
  );

type Ref = { $ref: string };

/** How a route is documented: what it does, what it answers, and its usual refusals. */
export interface RouteDoc {
  summary: string;
  ok?: Ref;
  created?: Ref;
  noContent?: string;
  notFound?: string;
  conflict?: string;
}

export const Documented = (doc: RouteDoc) =>
  applyDecorators(
    ApiOperation({ summary: doc.summary }),
    ...(doc.ok ? [ApiOkResponse({ schema: doc.ok })] : []),
    ...(doc.created ? [ApiCreatedResponse({ schema: doc.created })] : []),
    ...(doc.noContent ? [ApiNoContentResponse({ description: doc.noContent })] : []),
    ...(doc.notFound ? [ApiNotFoundResponse({ description: doc.notFound })] : []),
    ...(doc.conflict ? [ApiConflictResponse({ description: doc.conflict })] : []),
  );
