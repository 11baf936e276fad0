// cluster.js — Settings → Cluster (admins): the live nodes from GET /api/v1/cluster — id, version, uptime,
// last heartbeat and how far behind each is on token changes.  Data is only ever written with textContent.

import { api } from './api.js';
import * as fmt from './format.js';
import { cell } from './audit.js';

const $ = (id) => document.getElementById(id);

// 3725 -> "1 h 2 min"; under a minute in seconds.
export function uptime(s) {
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

function row(n) {
  const tr = document.createElement('tr');
  tr.className = 'cluster-row';
  tr.dataset.node = n.id;
  const lag = n.changesBehind === 0 ? 'current' : `${n.changesBehind} behind`;
  tr.append(cell(n.self ? `${n.id} (this node)` : n.id), cell(n.version), cell(uptime(n.uptimeSeconds)),
    cell(n.lastHeartbeatMsAgo == null ? null : `${n.lastHeartbeatMsAgo} ms ago`), cell(lag),
    cell(`${n.tokensConfirmedMsAgo} ms ago`), cell(fmt.dateTime(n.startedAt)));
  return tr;
}

export async function showCluster(isAdmin) {
  const status = $('cluster-status');
  const body = $('cluster-body');
  if (!isAdmin) {
    status.textContent = 'The cluster view is for admins.';
    body.replaceChildren();
    return;
  }
  status.textContent = 'Loading…';
  try {
    const c = await api.cluster();
    body.replaceChildren(...c.nodes.map(row));
    status.textContent = c.shared
      ? `${c.nodes.length} live node${c.nodes.length === 1 ? '' : 's'} (heartbeat every ${c.heartbeatMs} ms; a node missing three is dropped).`
      : 'This node alone: no Redis is configured (ratelimiter.redis.url), so nodes do not see each other.';
  } catch (e) {
    body.replaceChildren();
    status.textContent = `Cannot list the nodes: ${e.message}`;
  }
}
