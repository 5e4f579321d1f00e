/*
 * inventory.img: struct md_inventory <-> md.InventoryImage. The inventory
 * names the processes and shared objects of the image; it does not check
 * that their files exist (restore does, when it reads them).
 */
#include "memdump/image.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image/internal.h"
#include "memdump/cleanup.h"
#include "memdump/log.h"
#include "memdump/model.h"

#include "inventory.pb-c.h"

#define INVENTORY_NAME "inventory.img"

int image_write_inventory(int dirfd, const struct md_inventory *inv)
{
	Md__InventoryImage m = MD__INVENTORY_IMAGE__INIT;
	_cleanup_free_ int32_t *pids = NULL;
	_cleanup_free_ Md__NetSysctl *sysctls = NULL;
	_cleanup_free_ Md__NetSysctl **sysctl_ptrs = NULL;
	bool ns;

	if (inv->n_pids) {
		pids = calloc(inv->n_pids, sizeof(*pids));
		if (!pids)
			return log_err(-ENOMEM, "cannot write image '%s'", INVENTORY_NAME);
		for (size_t i = 0; i < inv->n_pids; i++)
			pids[i] = inv->pids[i];
	}
	m.format_version = inv->format_version;
	m.root_pid = inv->root_pid;
	m.dump_time_ns = inv->dump_time_ns;
	m.kernel_release = inv->kernel_release;
	m.tool_version = inv->tool_version;
	m.page_size = inv->page_size;
	m.xfeatures = inv->xfeatures;
	m.n_pids = inv->n_pids;
	m.pids = pids;
	m.n_shm_ids = inv->n_shm_ids;
	m.shm_ids = inv->shm_ids;
	m.n_sysv_shm_ids = inv->n_sysv_shm_ids;
	m.sysv_shm_ids = inv->sysv_shm_ids;
	m.has_pre_dump = inv->pre_dump;
	m.pre_dump = inv->pre_dump;
	m.uts_hostname = inv->uts_host;
	m.uts_domainname = inv->uts_domain;
	m.has_pid_ns = inv->pid_ns;
	m.pid_ns = inv->pid_ns;
	m.has_mnt_ns = m.has_proc_flags = inv->mnt_ns;
	m.mnt_ns = inv->mnt_ns;
	m.proc_flags = inv->proc_flags;
	m.proc_opts = inv->proc_opts;
	m.has_net_ns = m.has_lo_up = m.has_lo_mtu = inv->net_ns;
	m.net_ns = inv->net_ns;
	m.lo_up = inv->lo_up;
	m.lo_mtu = inv->lo_mtu;
	if (inv->n_net_sysctls) {
		sysctls = calloc(inv->n_net_sysctls, sizeof(*sysctls));
		sysctl_ptrs = calloc(inv->n_net_sysctls, sizeof(*sysctl_ptrs));
		if (!sysctls || !sysctl_ptrs)
			return log_err(-ENOMEM, "cannot write image '%s'", INVENTORY_NAME);
		for (size_t i = 0; i < inv->n_net_sysctls; i++) {
			md__net_sysctl__init(&sysctls[i]);
			sysctls[i].name = inv->net_sysctls[i].name;
			sysctls[i].value = inv->net_sysctls[i].value;
			sysctl_ptrs[i] = &sysctls[i];
		}
	}
	m.n_net_sysctls = inv->n_net_sysctls;
	m.net_sysctls = sysctl_ptrs;
	m.has_ipc_ns = m.ipc_ns = inv->ipc_ns;
	m.has_time_ns = m.has_time_monotonic_ns = m.has_time_boottime_ns = m.time_ns = inv->time_ns;
	m.time_monotonic_ns = inv->time_monotonic_ns;
	m.time_boottime_ns = inv->time_boottime_ns;
	m.has_cgroup_ns = m.cgroup_ns = inv->cgroup_ns;
	ns = inv->pid_ns || inv->mnt_ns || inv->uts_host || inv->uts_domain;
	return img_write_msg_flags(dirfd, INVENTORY_NAME, MD_IMG_INVENTORY,
				   (ns ? MD_INVENTORY_F_NS : 0) | (inv->net_ns ? MD_INVENTORY_F_NETNS : 0) |
					   (inv->ipc_ns ? MD_INVENTORY_F_IPCNS : 0) |
					   (inv->time_ns ? MD_INVENTORY_F_TIMENS : 0) |
					   (inv->cgroup_ns ? MD_INVENTORY_F_CGROUPNS : 0), &m.base);
}

static char *dup_or_null(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

static uint64_t *dup_ids(const uint64_t *ids, size_t n, bool *oom)
{
	uint64_t *d;

	if (!n)
		return NULL;
	d = calloc(n, sizeof(*d));
	if (!d)
		*oom = true;
	else
		memcpy(d, ids, n * sizeof(*d));
	return d;
}

int image_read_inventory(int dirfd, struct md_inventory *ret)
{
	_cleanup_msg_ ProtobufCMessage *raw = NULL;
	struct md_inventory inv = {0};
	Md__InventoryImage *m;
	bool oom = false;
	uint32_t flags;
	int r;

	r = img_read_msg_flags(dirfd, INVENTORY_NAME, MD_IMG_INVENTORY, &flags, &raw);
	if (r < 0)
		return r;
	m = (Md__InventoryImage *)raw;
	if (((m->has_pid_ns && m->pid_ns) || (m->has_mnt_ns && m->mnt_ns) || m->uts_hostname || m->uts_domainname) &&
	    !(flags & MD_INVENTORY_F_NS))
		return img_invalid(INVENTORY_NAME, "namespaces of the tree's own without the header flag");
	if (m->n_pids == 0)
		return img_invalid(INVENTORY_NAME, "lists no process");
	for (size_t i = 0; i < m->n_pids; i++)
		if (m->pids[i] <= 0 || m->pids[i] >= MD_PID_LIMIT)
			return img_invalid(INVENTORY_NAME, "lists pid %d", m->pids[i]);
	if (m->pids[0] != m->root_pid)
		return img_invalid(INVENTORY_NAME, "first pid %d is not the root pid %d", m->pids[0],
				   m->root_pid);
	if (m->page_size != MD_PAGE_SIZE)
		return img_invalid(INVENTORY_NAME, "page size %llu, this memdump handles %llu",
				   (unsigned long long)m->page_size, MD_PAGE_SIZE);

	if (!m->uts_hostname != !m->uts_domainname)
		return img_invalid(INVENTORY_NAME, "has a UTS %s name without a %s name",
				   m->uts_hostname ? "host" : "domain", m->uts_hostname ? "domain" : "host");
	/* protobuf-c ends a string at its first NUL: what is checked is what is restored */
	if ((m->uts_hostname && strlen(m->uts_hostname) > MD_UTS_NAME_MAX) ||
	    (m->uts_domainname && strlen(m->uts_domainname) > MD_UTS_NAME_MAX))
		return img_invalid(INVENTORY_NAME, "has a UTS name longer than %d bytes", MD_UTS_NAME_MAX);

	if (m->has_mnt_ns && m->mnt_ns && !(m->has_pid_ns && m->pid_ns))
		return img_invalid(INVENTORY_NAME, "a mount namespace of the tree's own without a PID namespace");
	if ((m->proc_flags & ~MD_PROC_FLAGS) || (m->proc_opts && strlen(m->proc_opts) > MD_PROC_OPTS_MAX))
		return img_invalid(INVENTORY_NAME, "/proc flags %#x or options too long", m->proc_flags);

	if (((m->has_net_ns && m->net_ns) || m->n_net_sysctls) && !(flags & MD_INVENTORY_F_NETNS))
		return img_invalid(INVENTORY_NAME, "a network namespace of the tree's own without the header flag");
	if (m->n_net_sysctls && !(m->has_net_ns && m->net_ns))
		return img_invalid(INVENTORY_NAME, "network sysctls without a network namespace of the tree's own");
	if (m->n_net_sysctls > MD_NET_SYSCTLS_MAX)
		return img_invalid(INVENTORY_NAME, "%zu network sysctls, at most %d", m->n_net_sysctls,
				   MD_NET_SYSCTLS_MAX);
	for (size_t i = 0; i < m->n_net_sysctls; i++) {
		const Md__NetSysctl *c = m->net_sysctls[i];

		/* a name restore opens under /proc/sys/net, and nowhere else */
		if (!md_net_sysctl_name_ok(c->name))
			return img_invalid(INVENTORY_NAME, "network sysctl '%.*s' is no name under /proc/sys/net",
					   MD_NET_SYSCTL_NAME_MAX, c->name);
		if (strlen(c->value) > MD_NET_SYSCTL_VALUE_MAX)
			return img_invalid(INVENTORY_NAME, "network sysctl '%s' has a value over %d bytes", c->name,
					   MD_NET_SYSCTL_VALUE_MAX);
	}

	if (m->has_ipc_ns && m->ipc_ns && !(flags & MD_INVENTORY_F_IPCNS))
		return img_invalid(INVENTORY_NAME, "an IPC namespace of the tree's own without the header flag");

	if (m->has_time_ns && m->time_ns) {
		if (!(flags & MD_INVENTORY_F_TIMENS))
			return img_invalid(INVENTORY_NAME, "a time namespace of the tree's own without the header flag");
		if (!m->has_time_monotonic_ns || !m->has_time_boottime_ns)
			return img_invalid(INVENTORY_NAME, "a time namespace of the tree's own without its clocks");
		/* the kernel would refuse the offsets, after the namespace was made */
		if (m->time_monotonic_ns > MD_TIMENS_CLOCK_MAX || m->time_boottime_ns > MD_TIMENS_CLOCK_MAX)
			return img_invalid(INVENTORY_NAME, "the clocks of the tree's time namespace (%llu, %llu ns) are "
					   "over %llu ns", (unsigned long long)m->time_monotonic_ns,
					   (unsigned long long)m->time_boottime_ns, MD_TIMENS_CLOCK_MAX);
	} else if (m->has_time_monotonic_ns || m->has_time_boottime_ns) {
		return img_invalid(INVENTORY_NAME, "clocks of a time namespace the tree did not have");
	}
	if (m->has_cgroup_ns && m->cgroup_ns && !(flags & MD_INVENTORY_F_CGROUPNS))
		return img_invalid(INVENTORY_NAME, "a cgroup namespace of the tree's own without the header flag");

	inv.format_version = m->format_version;
	inv.root_pid = m->root_pid;
	inv.dump_time_ns = m->dump_time_ns;
	inv.page_size = m->page_size;
	inv.xfeatures = m->xfeatures;
	inv.kernel_release = dup_or_null(m->kernel_release, &oom);
	inv.tool_version = dup_or_null(m->tool_version, &oom);
	inv.pids = calloc(m->n_pids, sizeof(*inv.pids));
	inv.n_pids = m->n_pids;
	if (!inv.pids)
		oom = true;
	else
		for (size_t i = 0; i < m->n_pids; i++)
			inv.pids[i] = m->pids[i];
	inv.shm_ids = dup_ids(m->shm_ids, m->n_shm_ids, &oom);
	inv.n_shm_ids = m->n_shm_ids;
	inv.sysv_shm_ids = dup_ids(m->sysv_shm_ids, m->n_sysv_shm_ids, &oom);
	inv.n_sysv_shm_ids = m->n_sysv_shm_ids;
	inv.pre_dump = m->has_pre_dump && m->pre_dump;
	inv.pid_ns = m->has_pid_ns && m->pid_ns;
	inv.mnt_ns = m->has_mnt_ns && m->mnt_ns;
	inv.proc_flags = m->proc_flags;
	inv.proc_opts = dup_or_null(m->proc_opts, &oom);
	inv.uts_host = dup_or_null(m->uts_hostname, &oom);
	inv.uts_domain = dup_or_null(m->uts_domainname, &oom);
	inv.net_ns = m->has_net_ns && m->net_ns;
	inv.lo_up = m->has_lo_up && m->lo_up;
	inv.lo_mtu = m->lo_mtu;
	inv.ipc_ns = m->has_ipc_ns && m->ipc_ns;
	inv.time_ns = m->has_time_ns && m->time_ns;
	inv.time_monotonic_ns = m->time_monotonic_ns;
	inv.time_boottime_ns = m->time_boottime_ns;
	inv.cgroup_ns = m->has_cgroup_ns && m->cgroup_ns;
	if (m->n_net_sysctls && !(inv.net_sysctls = calloc(m->n_net_sysctls, sizeof(*inv.net_sysctls))))
		oom = true;
	for (size_t i = 0; inv.net_sysctls && i < m->n_net_sysctls; i++) {
		inv.net_sysctls[i].name = dup_or_null(m->net_sysctls[i]->name, &oom);
		inv.net_sysctls[i].value = dup_or_null(m->net_sysctls[i]->value, &oom);
		inv.n_net_sysctls++;
	}
	if (oom) {
		md_inventory_release(&inv);
		return log_err(-ENOMEM, "cannot read image '%s'", INVENTORY_NAME);
	}
	*ret = inv;
	return 0;
}
