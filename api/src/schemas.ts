import { z } from '@hono/zod-openapi';

/** Schemas shared by several resources. */
export const ErrorSchema = z
  .object({ code: z.string(), message: z.string(), requestId: z.string(), details: z.unknown().optional() })
  .openapi('Error');

const json = (schema: z.ZodType, description: string) => ({ content: { 'application/json': { schema } }, description });

/** The error responses a protected route can give, for OpenAPI. */
export const errorResponses = {
  400: json(ErrorSchema, 'Invalid input'),
  401: json(ErrorSchema, 'Not signed in'),
  403: json(ErrorSchema, 'Missing permission'),
  404: json(ErrorSchema, 'Not found'),
  409: json(ErrorSchema, 'Conflict with the current state'),
} as const;

export const jsonBody = <T extends z.ZodType>(schema: T) => ({ content: { 'application/json': { schema } }, required: true as const });
export const jsonResponse = <T extends z.ZodType>(schema: T, description: string) => ({ content: { 'application/json': { schema } }, description });

export const UuidParam = z.object({ id: z.uuid({ error: 'must be a UUID' }).openapi({ param: { name: 'id', in: 'path' } }) });

export const StartedRunSchema = z
  .object({ workflowId: z.string(), runId: z.string(), operation: z.string() })
  .openapi('StartedRun');

/** `name` of nodes, blueprints and containers: DNS-label-like, so it is safe in Docker names. */
export const ResourceName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'use lowercase letters, digits and dashes (not at the ends)');

/**
 * A list that means a set (scopes, tags, keys): bounded, with duplicates dropped (first
 * occurrence kept), so 10,000 copies of one scope are a 400 and two copies are one.
 */
export const setOf = <T extends z.ZodType>(item: T, { min = 0, max, minMessage }: { min?: number; max: number; minMessage?: string }) =>
  z
    .array(item)
    .min(min, minMessage)
    .max(max)
    .transform((items) => [...new Set(items)]);
