/**
 * A stand-in for Azure Resource Graph, because no local Azure Resource Graph exists (no emulator,
 * no container): an HTTPS server that answers `POST /providers/Microsoft.ResourceGraph/resources`
 * the way the service does, so the REAL `@azure/arm-resourcegraph` ResourceGraphClient (its
 * serializer, bearer-token policy, TLS, error deserializer) runs against it.
 *
 * Shapes follow Microsoft's documented REST API (azure-rest-api-specs, Microsoft.ResourceGraph
 * stable/2024-04-01, examples ResourcesFirstPageQuery.json / ResourcesNextPageQuery.json): the
 * request `{subscriptions, managementGroups, query, options: {$top, $skip, $skipToken, resultFormat}}`,
 * the answer `{totalRecords, count, resultTruncated: "false", $skipToken, facets: [], data: [...]}`
 * with `resultFormat: objectArray`; errors as ARM's `{"error": {"code", "message"}}`; throttling
 * as 429 with Retry-After and Resource Graph's x-ms-user-quota-* headers ("Guidance for throttled
 * requests in Azure Resource Graph"). It cannot run KQL: it serves the rows of the table the query
 * starts with (Resources, ComputeResources), as the query's projection would return them, keeping
 * only the types a `| where type in~ ('a', 'b')` or `| where type =~ 'a'` clause names (compared
 * case-insensitively, as `in~` and `=~` do).
 *
 * HTTPS is needed: the SDK's bearer-token policy refuses to send a token over plain http. The
 * certificate is self-signed for 127.0.0.1, made with the openssl CLI per stand-in; clients trust
 * it through the SDK's own `tlsOptions.ca` option (in-process) or NODE_EXTRA_CA_CERTS (a child).
 *
 * It also answers App Service managed identity token requests (GET /msi/token with
 * X-IDENTITY-HEADER), so a child process's DefaultAzureCredential gets a token from it through
 * IDENTITY_ENDPOINT / IDENTITY_HEADER.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type TableName = 'Resources' | 'ComputeResources';

/** A scripted answer for one request instead of the normal one. */
export interface Fault {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly code?: string;
  readonly message?: string;
}

export interface RecordedRequest {
  readonly url: string;
  readonly authorization: string | undefined;
  readonly body: {
    subscriptions?: string[];
    managementGroups?: string[];
    query?: string;
    options?: { $top?: number; $skip?: number; $skipToken?: string; resultFormat?: string };
  };
  /** The status the stand-in answered with. */
  status: number;
}

export const STAND_IN_TOKEN = 'stand-in-bearer-token-3f9c2e71a0b44d5e';
export const IDENTITY_HEADER = 'stand-in-identity-header-77d1';

/** A TokenCredential handing out the token the stand-in accepts (in-process tests). */
export const standInCredential = {
  getToken: () => Promise.resolve({ token: STAND_IN_TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }),
};

export class ResourceGraphStandIn {
  readonly requests: RecordedRequest[] = [];
  /** Answers for the next requests, in order; `'ok'` serves that request normally. */
  readonly script: Array<Fault | 'ok'> = [];
  /** Rows per page at most (the client's $top may ask for fewer). */
  pageSize = 1000;
  tokenRequests = 0;
  private tables: Record<TableName, Record<string, unknown>[]> = { Resources: [], ComputeResources: [] };

  private constructor(
    private readonly server: Server,
    private readonly directory: string,
    readonly certificatePem: string,
    readonly certificatePath: string,
  ) {}

  static async start(): Promise<ResourceGraphStandIn> {
    const directory = mkdtempSync(join(tmpdir(), 'arg-stand-in-'));
    const keyPath = join(directory, 'key.pem');
    const certificatePath = join(directory, 'cert.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', keyPath, '-out', certificatePath,
    ], { stdio: 'ignore' }); // prettier-ignore
    const certificatePem = readFileSync(certificatePath, 'utf8');
    const server = createServer({ key: readFileSync(keyPath), cert: certificatePem });
    const standIn = new ResourceGraphStandIn(server, directory, certificatePem, certificatePath);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => standIn.handle(request.method ?? '', request.url ?? '', request.headers, Buffer.concat(chunks).toString('utf8'), response));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return standIn;
  }

  get endpoint(): string {
    return `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** What the estate holds now, table by table (rows as the discovery queries project them). */
  setEstate(tables: Partial<Record<TableName, Record<string, unknown>[]>>): void {
    this.tables = { Resources: tables.Resources ?? [], ComputeResources: tables.ComputeResources ?? [] };
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.directory, { recursive: true, force: true });
  }

  private handle(method: string, url: string, headers: Record<string, string | string[] | undefined>, text: string, response: ServerResponse): void {
    if (method === 'GET' && url.startsWith('/msi/token')) {
      this.tokenRequests++;
      if (headers['x-identity-header'] !== IDENTITY_HEADER) return json(response, 401, { error: 'bad identity header' });
      const resource = new URL(url, this.endpoint).searchParams.get('resource') ?? '';
      return json(response, 200, { access_token: STAND_IN_TOKEN, expires_on: String(Math.floor(Date.now() / 1000) + 3600), resource, token_type: 'Bearer' });
    }
    const body = safeJson(text) as RecordedRequest['body'];
    const recorded: RecordedRequest = { url, authorization: headers.authorization as string | undefined, body, status: 0 };
    this.requests.push(recorded);
    if (method !== 'POST' || !url.startsWith('/providers/Microsoft.ResourceGraph/resources?api-version=')) {
      recorded.status = 404;
      return json(response, 404, { error: { code: 'NotFound', message: `no such operation: ${method} ${url}` } });
    }
    if (recorded.authorization !== `Bearer ${STAND_IN_TOKEN}`) {
      recorded.status = 401;
      return json(response, 401, {
        error: { code: 'AuthenticationFailed', message: 'Authentication failed. The Authorization header is missing or invalid.' },
      });
    }
    const step = this.script.shift();
    if (step !== undefined && step !== 'ok') {
      recorded.status = step.status;
      return json(
        response,
        step.status,
        { error: { code: step.code ?? codeFor(step.status), message: step.message ?? messageFor(step.status) } },
        step.headers,
      );
    }
    const table = /^\s*(\w+)/.exec(body.query ?? '')?.[1] as TableName | undefined;
    const types = typeFilter(body.query ?? '');
    const tableRows = table === undefined ? undefined : this.tables[table];
    const rows = tableRows === undefined || types === undefined ? tableRows : tableRows.filter((row) => types.has(String(row.type).toLowerCase()));
    if (rows === undefined) {
      recorded.status = 400;
      return json(response, 400, {
        error: { code: 'BadRequest', message: `Please provide below info when asking for support: table '${table}' is unknown to this stand-in` },
      });
    }
    const token = body.options?.$skipToken;
    const offset = token === undefined ? (body.options?.$skip ?? 0) : (JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { offset: number }).offset;
    const top = Math.min(this.pageSize, body.options?.$top ?? 1000);
    const data = rows.slice(offset, offset + top);
    const next = offset + data.length;
    recorded.status = 200;
    json(
      response,
      200,
      {
        totalRecords: rows.length,
        count: data.length,
        resultTruncated: 'false',
        facets: [],
        ...(next < rows.length ? { $skipToken: Buffer.from(JSON.stringify({ offset: next })).toString('base64') } : {}),
        data,
      },
      { 'x-ms-user-quota-remaining': '14', 'x-ms-user-quota-resets-after': '00:00:05' },
    );
  }
}

function json(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  response.end(JSON.stringify(body));
}

/** The types of a `| where type in~ (...)` or `| where type =~ '...'` clause, lower-cased; undefined without one. */
function typeFilter(query: string): Set<string> | undefined {
  const list = /\|\s*where\s+type\s+in~\s*\(([^)]*)\)/i.exec(query);
  if (list !== null) return new Set([...list[1]!.matchAll(/'([^']*)'/g)].map((match) => match[1]!.toLowerCase()));
  const one = /\|\s*where\s+type\s*=~\s*'([^']*)'/i.exec(query);
  return one === null ? undefined : new Set([one[1]!.toLowerCase()]);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}

function codeFor(status: number): string {
  return status === 403 ? 'AuthorizationFailed' : status === 429 ? 'RateLimiting' : status >= 500 ? 'InternalServerError' : 'BadRequest';
}

function messageFor(status: number): string {
  if (status === 403) {
    return "The client '00000000-0000-0000-0000-00000000c11e' with object id '00000000-0000-0000-0000-00000000c11e' does not have authorization to perform action 'Microsoft.ResourceGraph/resources/read' over scope '/providers/Microsoft.ResourceGraph' or the scope is invalid.";
  }
  if (status === 429) return 'Please provide below info when asking for support: timestamp = 2026-12-03T10:00:00.0000000Z, correlationId = 0000.';
  return 'Encountered internal server error. Please retry.';
}

const SUB = '11111111-1111-1111-1111-111111111111';
const RG_ID = `/subscriptions/${SUB}/resourceGroups/rg-prod`;

/** A NIC row as the discovery query projects it (properties after Microsoft's NetworkInterfaceGet.json). */
export function nicRow(
  name: string,
  options: { mac?: string; ips: string[]; vm?: string; publicIp?: string; subnet?: string; tags?: Record<string, string>; vnet?: string },
): Record<string, unknown> {
  const id = `${RG_ID}/providers/Microsoft.Network/networkInterfaces/${name}`;
  return {
    id,
    name,
    type: 'microsoft.network/networkinterfaces',
    resourceGroup: 'rg-prod',
    subscriptionId: SUB,
    location: 'westeurope',
    tags: options.tags ?? {},
    macAddress: options.mac ?? '',
    ipConfigurations: options.ips.map((ip, index) => ({
      name: `ipconfig${index + 1}`,
      id: `${id}/ipConfigurations/ipconfig${index + 1}`,
      properties: {
        provisioningState: 'Succeeded',
        privateIPAddress: ip,
        privateIPAllocationMethod: 'Dynamic',
        subnet: { id: `${RG_ID}/providers/Microsoft.Network/virtualNetworks/${options.vnet ?? 'vnet-prod'}/subnets/${options.subnet ?? 'web'}` },
        primary: index === 0,
        privateIPAddressVersion: ip.includes(':') ? 'IPv6' : 'IPv4',
        ...(index === 0 && options.publicIp !== undefined
          ? { publicIPAddress: { id: `${RG_ID}/providers/Microsoft.Network/publicIPAddresses/${options.publicIp}` } }
          : {}),
      },
    })),
    virtualMachineId: options.vm === undefined ? '' : `${RG_ID}/providers/Microsoft.Compute/virtualMachines/${options.vm}`,
    ipAddress: '',
    ipConfigurationId: '',
  };
}

export function vmRow(name: string, tags: Record<string, string> = {}): Record<string, unknown> {
  return blankRow(`${RG_ID}/providers/Microsoft.Compute/virtualMachines/${name}`, name, 'microsoft.compute/virtualmachines', tags);
}

export function publicIpRow(name: string, address: string, nic: string): Record<string, unknown> {
  return {
    ...blankRow(`${RG_ID}/providers/Microsoft.Network/publicIPAddresses/${name}`, name, 'microsoft.network/publicipaddresses'),
    ipAddress: address,
    ipConfigurationId: `${RG_ID}/providers/Microsoft.Network/networkInterfaces/${nic}/ipConfigurations/ipconfig1`,
  };
}

/** A Uniform scale-set instance's NIC, as the ComputeResources table holds it. */
export function scaleSetNicRow(scaleSet: string, instance: string, nic: string, mac: string, ip: string): Record<string, unknown> {
  const vmId = `${RG_ID}/providers/Microsoft.Compute/virtualMachineScaleSets/${scaleSet}/virtualMachines/${instance}`;
  const id = `${vmId}/networkInterfaces/${nic}`;
  return {
    ...blankRow(id, nic, 'microsoft.compute/virtualmachinescalesets/virtualmachines/networkinterfaces'),
    macAddress: mac,
    ipConfigurations: [
      {
        name: 'ipconfig1',
        id: `${id}/ipConfigurations/ipconfig1`,
        properties: { privateIPAddress: ip, primary: true, subnet: { id: `${RG_ID}/providers/Microsoft.Network/virtualNetworks/vnet-prod/subnets/app` } },
      },
    ],
    virtualMachineId: vmId,
  };
}

function blankRow(id: string, name: string, type: string, tags: Record<string, string> = {}): Record<string, unknown> {
  return {
    id,
    name,
    type,
    resourceGroup: 'rg-prod',
    subscriptionId: SUB,
    location: 'westeurope',
    tags,
    macAddress: '',
    ipConfigurations: null,
    virtualMachineId: '',
    ipAddress: '',
    ipConfigurationId: '',
  };
}

export const STAND_IN_SUBSCRIPTION = SUB;
