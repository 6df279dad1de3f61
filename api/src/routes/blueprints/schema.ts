import { z } from '@hono/zod-openapi';
import { ResourceName } from '../../schemas';
import { EnvVars } from '../../services/operations';

const Port = z.number().int().min(1).max(65535);
/** Docker image references: [registry/]name[:tag][@digest]. */
const ImageRef = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[a-z0-9]+([._/-][a-z0-9]+)*(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$/, 'not a valid image reference (e.g. nginx:1.27 or registry/app:tag)');

export const BlueprintBody = z
  .object({
    name: ResourceName,
    description: z.string().max(1000).default(''),
    image: ImageRef,
    command: z.array(z.string().max(4096)).max(100).default([]),
    ports: z
      .array(z.object({ container: Port, host: Port, protocol: z.enum(['tcp', 'udp']).default('tcp') }))
      .max(50)
      .default([])
      .refine((ports) => new Set(ports.map((p) => `${p.host}/${p.protocol}`)).size === ports.length, 'a host port appears twice'),
    volumes: z
      .array(
        z.object({
          source: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, 'a named volume (letters, digits, _ . -); host paths are not allowed'),
          target: z.string().regex(/^\/[^:]*$/, 'an absolute path inside the container'),
          readOnly: z.boolean().default(false),
        }),
      )
      .max(20)
      .default([])
      .refine((volumes) => new Set(volumes.map((v) => v.target)).size === volumes.length, 'a container path is mounted twice'),
    env: EnvVars.default({}),
    cpuLimit: z.number().min(0.01, 'cpuLimit must be at least 0.01').max(256).nullable().default(null),
    memoryLimitMb: z.number().int().min(6, 'Docker needs at least 6 MB').max(1024 * 1024).nullable().default(null),
  })
  .openapi('BlueprintInput');

export const BlueprintSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    image: z.string(),
    command: z.array(z.string()),
    ports: z.array(z.object({ container: z.number(), host: z.number(), protocol: z.enum(['tcp', 'udp']) })),
    volumes: z.array(z.object({ source: z.string(), target: z.string(), readOnly: z.boolean() })),
    envKeys: z.array(z.string()),
    cpuLimit: z.number().nullable(),
    memoryLimitMb: z.number().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Blueprint');

export const BlueprintListSchema = z.object({ items: z.array(BlueprintSchema) }).openapi('BlueprintList');
