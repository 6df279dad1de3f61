/**
 * Monitoring's response shapes, taken from the API's own zod schemas (type-only: nothing of the
 * API is bundled), so a changed field shows up here as a type error, not as a drifted copy.
 */
import type { z } from 'zod';
import type {
  AlertDetailSchema,
  AlertSchema,
  OverviewSchema,
  ResourceSchema,
  RuleBody,
  RuleSchema,
  SeriesSchema,
  SilenceBody,
  SilenceSchema,
  WindowBody,
  WindowSchema,
} from '../../../../api/src/routes/monitoring/schema';

export type MonitoredResource = z.output<typeof ResourceSchema>;
export type MetricSeries = z.output<typeof SeriesSchema>;
export type SeriesPoint = MetricSeries['points'][number];
export type Alert = z.output<typeof AlertSchema>;
export type AlertDetail = z.output<typeof AlertDetailSchema>;
export type AlertRule = z.output<typeof RuleSchema>;
export type Silence = z.output<typeof SilenceSchema>;
export type MaintenanceWindow = z.output<typeof WindowSchema>;
export type MonitoringOverview = z.output<typeof OverviewSchema>;
export type MonitoredKind = MonitoredResource['kind'];
export type SeriesRange = '15m' | '1h' | '6h' | '24h' | '7d' | '30d';
export type AlertRuleInput = z.input<typeof RuleBody>;
export type SilenceInput = z.input<typeof SilenceBody>;
export type MaintenanceWindowInput = z.input<typeof WindowBody>;
export type AlertScope = AlertRule['scope'];
