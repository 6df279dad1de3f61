import { z } from '@hono/zod-openapi';
import { ResourceName } from '../../schemas';

export const NodeSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    kind: z.string(),
    endpoint: z.string(),
    status: z.enum(['pending', 'online', 'offline']),
    capacity: z.object({ cpus: z.number(), memoryBytes: z.number(), containersRunning: z.number(), serverVersion: z.string() }).nullable(),
    lastSeenAt: z.string().nullable(),
    taskQueue: z.string(),
    createdAt: z.string(),
  })
  .openapi('Node');

export const RegisterNodeBody = z
  .object({
    name: ResourceName,
    endpoint: z
      .string()
      .regex(/^(unix:\/\/\/[\w./-]+|tcp:\/\/[\w.-]+:\d+)$/, 'unix:///path/to/docker.sock or tcp://host:port')
      .default('unix:///var/run/docker.sock'),
  })
  .openapi('RegisterNode');

export const RegisteredNode = NodeSchema.extend({
  /** How to serve this node: run a worker on the Docker host with these settings. */
  workerEnv: z.record(z.string(), z.string()),
});

export const NodeListSchema = z.object({ items: z.array(NodeSchema) }).openapi('NodeList');
