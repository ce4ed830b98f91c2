/*
 * File transfers of the `ssh` driver (see ssh_sftp.h): put and get over
 * SFTP through libssh2 in non-blocking mode, 256 KiB at a time, with
 * SFTP's status codes turned into words ("no such file or folder").
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ssh_sftp.h"

#define SSH_XFER_BUF (256u << 10)

static void sftp_error(struct ssh_conn *c, struct strbuf *msg)
{
	if (libssh2_session_last_errno(c->session) !=
	    LIBSSH2_ERROR_SFTP_PROTOCOL) {
		ssh_conn_last_error(c, msg);
		return;
	}
	unsigned long e = libssh2_sftp_last_error(c->sftp);
	switch (e) {
	case LIBSSH2_FX_NO_SUCH_FILE:
	case LIBSSH2_FX_NO_SUCH_PATH:
		strbuf_addstr(msg, "no such file or folder");
		break;
	case LIBSSH2_FX_PERMISSION_DENIED:
		strbuf_addstr(msg, "permission denied");
		break;
	case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM:
	case LIBSSH2_FX_QUOTA_EXCEEDED:
		strbuf_addstr(msg, "no space left");
		break;
	case LIBSSH2_FX_WRITE_PROTECT:
		strbuf_addstr(msg, "read-only file system");
		break;
	case LIBSSH2_FX_NOT_A_DIRECTORY:
		strbuf_addstr(msg, "not a folder");
		break;
	case LIBSSH2_FX_FAILURE:
		strbuf_addstr(msg, "failure (a folder, or a full disk?)");
		break;
	default:
		strbuf_addf(msg, "SFTP error %lu", e);
		break;
	}
}

/* A transfer's handle: opened, and always closed. */
static LIBSSH2_SFTP_HANDLE *sftp_open(struct ssh_conn *c, const char *path,
				      unsigned long flags, long mode,
				      struct ssh_wait *w)
{
	LIBSSH2_SFTP_HANDLE *h;
	while (!(h = libssh2_sftp_open_ex(c->sftp, path, (unsigned)strlen(path),
					  flags, mode,
					  LIBSSH2_SFTP_OPENFILE)) &&
	       libssh2_session_last_errno(c->session) == LIBSSH2_ERROR_EAGAIN)
		if (ssh_conn_wait(c, w) < 0)
			return NULL;
	return h;
}

static int sftp_close(struct ssh_conn *c, LIBSSH2_SFTP_HANDLE *h,
		      struct ssh_wait *w)
{
	int rc;
	while ((rc = libssh2_sftp_close_handle(h)) == LIBSSH2_ERROR_EAGAIN)
		if (ssh_conn_wait(c, w) < 0)
			return -1;
	return rc ? -1 : 0;
}

int ssh_sftp_put(struct ssh_conn *c, const char *local, const char *remote,
		 int mode, struct ssh_wait *w, uint64_t *bytes, int *drop,
		 struct strbuf *msg)
{
	LIBSSH2_SFTP_HANDLE *h = NULL;
	char *buf = NULL;
	int ret = -1;
	struct stat sb;
	int fd = open(local, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) < 0) {
		strbuf_addf(msg, "cannot read '%s': %s", local,
			    strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		strbuf_addf(msg, "'%s' is not a file", local);
		goto out;
	}
	if (mode < 0)
		mode = (int)(sb.st_mode & 07777);
	if (ssh_conn_sftp(c, w, msg) < 0) {
		*drop = 1;
		goto out;
	}
	h = sftp_open(c, remote,
		      LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC,
		      mode, w);
	if (!h) {
		if (w->timed_out || w->cancelled) {
			*drop = 1;
			goto out;
		}
		strbuf_addf(msg, "cannot write '%s' on %s: ", remote, c->id);
		sftp_error(c, msg);
		goto out;
	}
	buf = xmalloc(SSH_XFER_BUF);
	for (;;) {
		ssize_t n = read(fd, buf, SSH_XFER_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			strbuf_addf(msg, "cannot read '%s': %s", local,
				    strerror(errno));
			goto out;
		}
		if (!n)
			break;
		for (size_t off = 0; off < (size_t)n;) {
			ssize_t k = libssh2_sftp_write(h, buf + off,
						       (size_t)n - off);
			if (k > 0) {
				off += (size_t)k;
				*bytes += (uint64_t)k;
			} else if (k != LIBSSH2_ERROR_EAGAIN ||
				   ssh_conn_wait(c, w) < 0) {
				*drop = 1;
				if (!w->timed_out && !w->cancelled) {
					strbuf_addf(msg,
						    "cannot write '%s' on %s: ",
						    remote, c->id);
					sftp_error(c, msg);
				}
				goto out;
			}
		}
	}
	LIBSSH2_SFTP_ATTRIBUTES a;
	memset(&a, 0, sizeof(a));
	a.flags = LIBSSH2_SFTP_ATTR_PERMISSIONS;
	a.permissions = (unsigned long)mode;
	int rc;
	while ((rc = libssh2_sftp_fsetstat(h, &a)) == LIBSSH2_ERROR_EAGAIN)
		if (ssh_conn_wait(c, w) < 0) {
			*drop = 1;
			goto out;
		}
	if (rc) {
		strbuf_addf(msg, "cannot set the mode of '%s' on %s: ", remote,
			    c->id);
		sftp_error(c, msg);
		goto out;
	}
	ret = 0;
out:
	if (h && !*drop && sftp_close(c, h, w) < 0 && !ret) {
		*drop = 1;
		ret = -1;
		if (!w->timed_out && !w->cancelled) {
			strbuf_addf(msg, "cannot close '%s' on %s: ", remote,
				    c->id);
			sftp_error(c, msg);
		}
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

int ssh_sftp_get(struct ssh_conn *c, const char *remote, const char *local,
		 struct ssh_wait *w, uint64_t *bytes, int *drop,
		 struct strbuf *msg)
{
	LIBSSH2_SFTP_HANDLE *h = NULL;
	LIBSSH2_SFTP_ATTRIBUTES a;
	char *buf = NULL;
	int ret = -1, fd = -1, rc, created = 0;
	if (ssh_conn_sftp(c, w, msg) < 0) {
		*drop = 1;
		goto out;
	}
	h = sftp_open(c, remote, LIBSSH2_FXF_READ, 0, w);
	if (!h) {
		if (w->timed_out || w->cancelled) {
			*drop = 1;
			goto out;
		}
		strbuf_addf(msg, "cannot read '%s' on %s: ", remote, c->id);
		sftp_error(c, msg);
		goto out;
	}
	memset(&a, 0, sizeof(a));
	while ((rc = libssh2_sftp_fstat_ex(h, &a, 0)) == LIBSSH2_ERROR_EAGAIN)
		if (ssh_conn_wait(c, w) < 0) {
			*drop = 1;
			goto out;
		}
	if (!rc && (a.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) &&
	    !LIBSSH2_SFTP_S_ISREG(a.permissions)) {
		strbuf_addf(msg, "'%s' on %s is not a file", remote, c->id);
		goto out;
	}
	char *dir = xstrdup(local);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir_p(dir, 0755);
	}
	free(dir);
	fd = open(local, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		strbuf_addf(msg, "cannot write '%s': %s", local,
			    strerror(errno));
		goto out;
	}
	created = 1;
	buf = xmalloc(SSH_XFER_BUF);
	for (;;) {
		ssize_t n = libssh2_sftp_read(h, buf, SSH_XFER_BUF);
		if (n == LIBSSH2_ERROR_EAGAIN) {
			if (ssh_conn_wait(c, w) < 0) {
				*drop = 1;
				goto out;
			}
			continue;
		}
		if (n < 0) {
			*drop = 1;
			strbuf_addf(msg, "cannot read '%s' on %s: ", remote,
				    c->id);
			sftp_error(c, msg);
			goto out;
		}
		if (!n)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t k = write(fd, buf + off, (size_t)(n - off));
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0) {
				strbuf_addf(msg, "cannot write '%s': %s", local,
					    strerror(errno));
				*drop = 1; /* the read-ahead is in flight */
				goto out;
			}
			off += k;
		}
		*bytes += (uint64_t)n;
	}
	if (close(fd) < 0) {
		fd = -1;
		strbuf_addf(msg, "cannot write '%s': %s", local,
			    strerror(errno));
		goto out;
	}
	fd = -1;
	if ((a.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS))
		chmod(local, (mode_t)(a.permissions & 0777));
	ret = 0;
out:
	if (h && !*drop && sftp_close(c, h, w) < 0 && !ret) {
		*drop = 1;
		ret = -1;
	}
	if (fd >= 0)
		close(fd);
	if (ret < 0 && created)
		unlink(local);
	free(buf);
	return ret;
}
