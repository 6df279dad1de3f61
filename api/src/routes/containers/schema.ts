import { z } from '@hono/zod-openapi';
import { StartedRunSchema } from '../../schemas';

export const ContainerSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    nodeId: z.string(),
    blueprintId: z.string().nullable(),
    image: z.string(),
    command: z.array(z.string()),
    ports: z.array(z.object({ container: z.number(), host: z.number(), protocol: z.enum(['tcp', 'udp']) })),
    volumes: z.array(z.object({ source: z.string(), target: z.string(), readOnly: z.boolean() })),
    envKeys: z.array(z.string()),
    cpuLimit: z.number().nullable(),
    memoryLimitMb: z.number().nullable(),
    state: z.enum(['creating', 'running', 'stopped', 'failed', 'removing', 'removed']),
    lastError: z.string().nullable(),
    dockerId: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Container');

export const ContainerCreated = z.object({ container: ContainerSchema, run: StartedRunSchema }).openapi('ContainerCreated');

export const ContainerActionBody = z
  .object({
    action: z.enum(['start', 'stop', 'restart']),
    stopTimeoutSeconds: z.number().int().min(0).max(600).optional(),
  })
  .openapi('ContainerAction');

export const ListContainersQuery = z.object({
  nodeId: z.uuid().optional(),
  includeRemoved: z
    .enum(['true', 'false'])
    .optional()
    .transform((v) => v === 'true'),
});

export const ContainerListSchema = z.object({ items: z.array(ContainerSchema) }).openapi('ContainerList');
