import {
  applyDecorators,
  ArgumentMetadata,
  BadRequestException,
  Injectable,
  PipeTransform,
  UsePipes,
} from '@nestjs/common';
import { ApiBadRequestResponse, ApiBody, ApiQuery } from '@nestjs/swagger';
import { z } from 'zod';
import { describeTextProblem, findUnstorableText } from '@app/database';
import { ParseJsonBody } from '@app/observability';
import { schemaRef } from './openapi-schemas';

export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const path = i.path.join('.');
      return path ? `${path}: ${i.message}` : i.message;
    })
    .join('; ');
}

@Injectable()
class ZodPipe implements PipeTransform {
  constructor(
    private readonly part: ArgumentMetadata['type'],
    private readonly schema: z.ZodType,
  ) {}

  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type !== this.part) return value;
    const problem = findUnstorableText(value);
    if (problem) {
      const where = this.part === 'body' ? 'request body' : 'query';
      throw new BadRequestException(`invalid ${where}: ${describeTextProblem(problem)}`);
    }
    const result = this.schema.safeParse(value ?? (this.part === 'body' ? undefined : {}));
    if (!result.success) {
      const where = this.part === 'body' ? 'request body' : 'query';
      throw new BadRequestException(`invalid ${where}: ${describeIssues(result.error)}`);
    }
    return result.data;
  }
}

/**
 * Reads the JSON body (after authentication), validates it with a strict zod schema (unknown
 * fields: 400) and documents it.
 */
export const JsonBody = (name: string, schema: z.ZodType) =>
  applyDecorators(
    ParseJsonBody(),
    UsePipes(new ZodPipe('body', schema)),
    ApiBody({ schema: schemaRef(name, schema) }),
    ApiBadRequestResponse({
      description: 'The body is not valid; the message says which field and why',
    }),
  );

/** Validates the query string with a zod object schema and documents each parameter. */
export const QueryParams = (schema: z.ZodObject) =>
  applyDecorators(
    UsePipes(new ZodPipe('query', schema)),
    ...Object.entries(schema.shape).map(([name, field]) =>
      ApiQuery({
        name,
        required: !(field as z.ZodType).safeParse(undefined).success,
        schema: z.toJSONSchema(field as z.ZodType, {
          target: 'openapi-3.0',
          io: 'input',
        }) as Record<string, unknown>,
      }),
    ),
  );
