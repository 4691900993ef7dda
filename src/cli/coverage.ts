import { Command } from 'commander';
import { analyzeCoverage, DEFAULT_FIX_RETENTION_DAYS, findingsAtOrAbove } from '../coverage/analyze.js';
import type { CoverageReason, CoverageReport, Severity } from '../coverage/report.js';
import { discoverEstate } from '../inventory/estate.js';
import { DEFAULT_ARM_ENDPOINT, openResourceGraph, type ResourceGraphDependencies } from '../inventory/resourceGraph.js';
import { createLogger, type LogLevel } from '../log.js';
import { collect } from './collect.js';
import { UsageError } from './usageError.js';
import { formatNumber, formatTable } from '../flow/textTable.js';
import { armEndpointArgument } from './enrichOptions.js';

interface RawFlags {
  subscription: string[];
  managementGroup: string[];
  storageAccount: string[];
  output: string;
  failOnFindings?: string | true;
  retentionDays: string;
  armEndpoint: string;
  logLevel: LogLevel;
  quiet?: boolean;
}

interface CoverageFlags extends Omit<RawFlags, 'output' | 'failOnFindings' | 'retentionDays'> {
  output: 'table' | 'json';
  failOnFindings: Severity | undefined;
  retentionDays: number;
}

/** What tests replace: the credential (default DefaultAzureCredential), SDK client options, the clock, stdout, the exit code. */
export interface CoverageCommandDependencies extends ResourceGraphDependencies {
  readonly now?: () => Date;
  readonly write?: (text: string) => void;
  readonly setExitCode?: (code: number) => void;
}

/** Rows read before progress lines start (a small estate finishes without any). */
const PROGRESS_AFTER_ROWS = 1000;

/** `nsg2ipfix coverage`: which traffic flow logs miss, count twice or count without bytes, and the `az` commands that fix it. */
export function coverageCommand(deps: CoverageCommandDependencies = {}): Command {
  return new Command('coverage')
    .description(
      'report which VNets, subnets and NICs flow logs miss or count twice, NSG flow logs on version 1 or to retire, with the az commands that fix them',
    )
    .option('--subscription <id>', 'subscription to examine; repeat for several (default: every one the identity can read)', collect, [])
    .option('--management-group <id>', 'management group to examine; repeat for several', collect, [])
    .option(
      '--storage-account <name-or-id>',
      'a storage account nsg2ipfix reads (name, resource id or blob URL); repeat for several; flow logs writing elsewhere are findings',
      collect,
      [],
    )
    .option('--output <format>', 'report format: table or json', 'table')
    .option('--fail-on-findings [severity]', 'exit 1 when findings of this severity or above exist: high, medium or low (default low: anything above info)')
    .option('--retention-days <days>', 'retention of the flow logs the fix commands create (1 to 365)', String(DEFAULT_FIX_RETENTION_DAYS))
    .option('--arm-endpoint <url>', 'Azure Resource Manager endpoint (sovereign clouds)', armEndpointArgument, DEFAULT_ARM_ENDPOINT)
    .option('--log-level <level>', 'log level (JSON lines on stderr)', 'warn')
    .option('-q, --quiet', 'no progress lines on stderr')
    .addHelpText(
      'after',
      '\nNeeds the Reader role on the subscriptions (or a management group above them); flow logs are read with it too.\n\nExamples:\n' +
        '  nsg2ipfix coverage\n' +
        '  nsg2ipfix coverage --subscription 00000000-0000-0000-0000-000000000000 --storage-account stflowlogs --output json\n' +
        '  nsg2ipfix coverage --fail-on-findings high     # in a pipeline: exit 1 on gaps, double counting, version 1',
    )
    .action(async (raw: RawFlags) => {
      const flags = checkFlags(raw);
      const report = await runCoverage(flags, deps);
      (deps.write ?? ((text: string) => process.stdout.write(text)))(
        flags.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatCoverageReport(report),
      );
      if (flags.failOnFindings !== undefined && findingsAtOrAbove(report, flags.failOnFindings).length > 0) {
        (deps.setExitCode ?? ((code: number) => (process.exitCode = code)))(1);
      }
    });
}

async function runCoverage(flags: CoverageFlags, deps: CoverageCommandDependencies): Promise<CoverageReport> {
  const logger = createLogger(flags.logLevel);
  const graph = await openResourceGraph(deps, logger, flags.armEndpoint);
  const scope = {
    ...(flags.subscription.length > 0 ? { subscriptions: flags.subscription } : {}),
    ...(flags.managementGroup.length > 0 ? { managementGroups: flags.managementGroup } : {}),
  };
  const estate = await discoverEstate(graph, scope, logger, {
    onProgress: (rows) => {
      if (flags.quiet !== true && rows >= PROGRESS_AFTER_ROWS)
        process.stderr.write(`coverage: ${formatNumber(rows)} resources read from Azure Resource Graph\n`);
    },
  });
  return analyzeCoverage(estate, {
    generatedAt: (deps.now ?? (() => new Date()))().toISOString(),
    scope: { subscriptions: flags.subscription, managementGroups: flags.managementGroup },
    readStorageAccounts: flags.storageAccount,
    retentionDays: flags.retentionDays,
  });
}

const REASONS: Record<CoverageReason, string> = {
  'no-flow-log': 'no flow log',
  'flow-log-disabled': 'flow log disabled',
  'nics-unseen': 'some NICs unseen',
  'subnet-nsg-only': 'subnet NSG only: traffic between its VMs unseen',
  'double-counting': 'counted twice',
  'nsg-flow-log-v1': 'NSG flow log v1: no byte counts',
};

/** The report for people: coverage per VNet and subnet, then each finding with its fix, then the policies. */
export function formatCoverageReport(report: CoverageReport): string {
  const lines: string[] = [];
  const { summary } = report;
  const where =
    report.scope.subscriptions.length + report.scope.managementGroups.length === 0
      ? 'every subscription the identity can read'
      : [
          ...(report.scope.subscriptions.length === 0 ? [] : [`subscription ${report.scope.subscriptions.join(', ')}`]),
          ...(report.scope.managementGroups.length === 0 ? [] : [`management group ${report.scope.managementGroups.join(', ')}`]),
        ].join('; ');
  lines.push(
    `Flow log coverage of ${count(summary.vnets, 'VNet')}, ${count(summary.subnets, 'subnet')}, ${count(summary.nics, 'NIC')} and ${count(summary.flowLogs.total, 'flow log')} ` +
      `(${summary.flowLogs.nsg} NSG, ${summary.flowLogs.vnet} VNet, ${summary.flowLogs.disabled} disabled) in ${where}, ${report.generatedAt}`,
    '',
  );
  if (report.vnets.length > 0) {
    const names = new Map(report.flowLogs.map((log) => [log.id.toLowerCase(), log.name]));
    const logNames = (ids: readonly string[]) => (ids.length === 0 ? '-' : ids.map((id) => names.get(id.toLowerCase()) ?? id).join(', '));
    const rows: string[][] = [];
    for (const vnet of report.vnets) {
      rows.push([vnet.name, vnet.region, vnet.coverage, vnet.flowLogs.length === 0 ? '' : logNames(vnet.flowLogs), '']);
      for (const subnet of vnet.subnets) {
        rows.push([`  ${subnet.name}`, '', subnet.coverage, logNames(subnet.flowLogs), subnet.reasons.map((reason) => REASONS[reason]).join('; ')]);
      }
    }
    lines.push(formatTable(['VNET / SUBNET', 'REGION', 'COVERAGE', 'FLOW LOGS', 'WHY'], rows), '');
  }
  if (report.findings.length === 0) {
    lines.push('No findings: every subnet is seen once, by enabled flow logs that carry byte counts.');
    return `${lines.join('\n')}\n`;
  }
  const f = summary.findings;
  lines.push(`${count(f.total, 'finding')}: ${f.high} high, ${f.medium} medium, ${f.low} low, ${f.info} info`, '');
  report.findings.forEach((finding, i) => {
    lines.push(`${i + 1}. [${finding.severity}] ${finding.kind}: ${finding.name} (${finding.region}, subscription ${finding.subscription})`);
    lines.push(`   ${finding.message}`);
    if (finding.fix.az.length > 0) lines.push('   fix:', ...finding.fix.az.map((command) => `     ${command}`));
    if (finding.fix.note !== undefined) lines.push(`   note: ${finding.fix.note}`);
    lines.push('');
  });
  const policies = new Map<string, NonNullable<CoverageReport['findings'][number]['fix']['policy']>>();
  for (const finding of report.findings) if (finding.fix.policy !== undefined) policies.set(finding.fix.policy.az[0]!, finding.fix.policy);
  if (policies.size > 0) {
    const first = [...policies.values()][0]!;
    lines.push(`At scale, with Azure Policy (${first.docUrl}):`);
    lines.push(`  "${first.displayName}" (${first.definitionId}) deploys a VNet flow log to every VNet of a region:`);
    for (const policy of policies.values()) lines.push(...policy.az.map((command) => `    ${command}`));
    lines.push(`  "${first.audit.displayName}" (${first.audit.definitionId}) only reports VNets without one:`);
    for (const audit of new Set([...policies.values()].map((policy) => policy.audit.az))) lines.push(`    ${audit}`);
    lines.push('  Disable the NSG flow logs of those VNets first (the fixes above do): Microsoft warns that both together log every flow twice.');
  }
  return `${lines.join('\n')}\n`;
}

/** The options as commander hands them over, checked here so that a bad value is one line and exit 2, as elsewhere. */
function checkFlags(raw: RawFlags): CoverageFlags {
  if (raw.output !== 'table' && raw.output !== 'json') throw new UsageError(`--output must be table or json, got '${raw.output}'`);
  const severity = raw.failOnFindings === true ? 'low' : raw.failOnFindings;
  if (severity !== undefined && severity !== 'high' && severity !== 'medium' && severity !== 'low') {
    throw new UsageError(`--fail-on-findings takes high, medium or low, got '${severity}'`);
  }
  const days = Number(raw.retentionDays);
  if (!/^\d+$/.test(raw.retentionDays) || days < 1 || days > 365)
    throw new UsageError(`--retention-days must be a number of days from 1 to 365, got '${raw.retentionDays}'`);
  return { ...raw, output: raw.output, failOnFindings: severity, retentionDays: days };
}

function count(n: number, noun: string): string {
  return `${formatNumber(n)} ${noun}${n === 1 ? '' : 's'}`;
}
