/*
 * ctl-svg.c: the draw-down chart of a contract as a self-contained SVG
 * document, for a controller to paste into a report: the budget as a
 * line, committed + paid (what the contract has given away) and paid as
 * areas beneath it, and reserved on top of those as a dashed line, month
 * by month, with a title, euro ticks and a legend.
 *
 * Months are steps, not slopes: each point is the contract at the end of
 * its month, so a value holds for the whole month's band, and one month
 * of data is a plain bar rather than a lone point. Only text is written
 * here (no SVG library): one function per element of the chart, with
 * every attribute inline so that office suites that ignore CSS render it.
 * The caller owns the file.
 */
#include <stdio.h>
#include <string.h>

#include "budgetctl.h"

/* The canvas and the plot area inside it, in pixels. */
#define SVG_WIDTH        860
#define SVG_HEIGHT       500
#define SVG_PLOT_LEFT    80
#define SVG_PLOT_TOP     80
#define SVG_PLOT_RIGHT   30
#define SVG_PLOT_BOTTOM  100
/* About this many ticks on the y axis; a month label needs this room. */
#define SVG_YTICKS       5
#define SVG_MONTH_PIXELS 64
/* Legend: a swatch, the gap to its label, a label's character, a gap. */
#define SVG_SWATCH       22
#define SVG_SWATCH_GAP   6
#define SVG_CHAR_EM      0.6
#define SVG_ITEM_GAP     24

#define SVG_FONT      "DejaVu Sans, Helvetica, Arial, sans-serif"
#define SVG_INK       "#1f2933"
#define SVG_GRID      "#d9dde3"
#define SVG_BUDGET    "#1f2933"
#define SVG_USED_FILL "#9cc3f5"
#define SVG_USED_LINE "#1c5fb8"
#define SVG_PAID_FILL "#5fbf8f"
#define SVG_PAID_LINE "#17784a"
#define SVG_RESERVED  "#d97a0b"

struct svg_chart {
	FILE                         *fp;
	const Budget__DrawdownResult *d;
	size_t                        n;    /* months */
	double                        x, y; /* the plot area's top left */
	double                        w, h;
	int64_t                       top;  /* cents at the top of the y axis */
	int64_t                       step; /* cents between two ticks */
	int                           reserved; /* any month has reservations */
};

/* What a series shows of a month, in cents. */
typedef int64_t (*svg_series)(const Budget__DrawdownPoint *);

static int64_t svg_budget(const Budget__DrawdownPoint *);
static int64_t svg_used(const Budget__DrawdownPoint *);
static int64_t svg_paid(const Budget__DrawdownPoint *);
static int64_t svg_usage(const Budget__DrawdownPoint *);
static void    svg_text(FILE *, const char *);
static void    svg_scale(struct svg_chart *);
static double  svg_px_x(const struct svg_chart *, size_t);
static double  svg_px_y(const struct svg_chart *, int64_t);
static char   *svg_euros(int64_t, char *, size_t);
static void    svg_begin(struct svg_chart *);
static void    svg_title(struct svg_chart *);
static void    svg_grid(struct svg_chart *);
static void    svg_months(struct svg_chart *);
static void
svg_area(struct svg_chart *, svg_series, const char *, const char *);
static void
svg_step(struct svg_chart *, svg_series, const char *, double, const char *);
static void svg_legend(struct svg_chart *);
static void svg_end(struct svg_chart *);

static int64_t
svg_budget(const Budget__DrawdownPoint *p)
{
	return (p->budget_cents);
}

/* Cumulative committed: everything approved, paid out or not. */
static int64_t
svg_used(const Budget__DrawdownPoint *p)
{
	return (p->committed_cents + p->paid_cents);
}

static int64_t
svg_paid(const Budget__DrawdownPoint *p)
{
	return (p->paid_cents);
}

/* Everything the budget is holding for: reservations on top. */
static int64_t
svg_usage(const Budget__DrawdownPoint *p)
{
	return (p->reserved_cents + p->committed_cents + p->paid_cents);
}

/*
 * Text from the ledger (ids, provider names) inside an element or an
 * attribute: the five characters XML gives a meaning escaped, control
 * characters, which XML 1.0 forbids, as blanks, and U+FFFE and U+FFFF,
 * which it forbids too (the ledger's UTF-8 allows them), as U+FFFD.
 */
static void
svg_text(FILE *fp, const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)s[0] == 0xef &&
		    (unsigned char)s[1] == 0xbf &&
		    ((unsigned char)s[2] == 0xbe ||
			(unsigned char)s[2] == 0xbf)) {
			fputs("\xef\xbf\xbd", fp);
			s += 2;
			continue;
		}
		switch (*s) {
		case '&':
			fputs("&amp;", fp);
			break;
		case '<':
			fputs("&lt;", fp);
			break;
		case '>':
			fputs("&gt;", fp);
			break;
		case '"':
			fputs("&quot;", fp);
			break;
		case '\'':
			fputs("&apos;", fp);
			break;
		default:
			fputc((unsigned char)*s < 0x20 ? ' ' : *s, fp);
		}
	}
}

/*
 * The y axis: a round step (1, 2, 2.5 or 5 times a power of ten euros)
 * giving about SVG_YTICKS ticks, and a top that is a whole number of steps
 * with room above the highest value, so that the budget line is not the
 * frame.
 */
static void
svg_scale(struct svg_chart *c)
{
	static const int64_t nice[] = {10, 20, 25, 50, 100};
	int64_t              max = 0, raw, mag = 100, v;
	size_t               i;

	for (i = 0; i < c->n; i++) {
		if ((v = svg_budget(c->d->points[i])) > max)
			max = v;
		if ((v = svg_usage(c->d->points[i])) > max)
			max = v;
		if (c->d->points[i]->reserved_cents != 0)
			c->reserved = 1;
	}
	if (max <= 0)
		max = 100000; /* an empty contract: a scale up to EUR 1,000 */
	raw = max / SVG_YTICKS;
	while (mag * 10 <= raw)
		mag *= 10;
	for (i = 0; i < sizeof(nice) / sizeof(nice[0]); i++)
		if ((c->step = mag * nice[i] / 10) >= raw)
			break;
	c->top = (max / c->step + 1) * c->step;
}

/* The left edge of month i's band; i = n is the right end of the plot. */
static double
svg_px_x(const struct svg_chart *c, size_t i)
{
	return (c->x + c->w * (double)i / (double)c->n);
}

static double
svg_px_y(const struct svg_chart *c, int64_t cents)
{
	return (c->y + c->h - c->h * (double)cents / (double)c->top);
}

/*
 * A tick label in euros, short: "7.5", "750", "2.5k", "250k", "1.25M".
 * The ticks are round numbers, so two decimals at most are ever needed.
 * Worked out in cents: a small contract's step can be EUR 2.50, whose
 * ticks in whole euros would read 2, 5, 7 for 2.5, 5, 7.5.
 */
static char *
svg_euros(int64_t cents, char *buf, size_t len)
{
	static const struct {
		int64_t     unit; /* in cents */
		const char *suffix;
	} units[] = {{100000000, "M"}, {100000, "k"}, {100, ""}};
	int64_t frac;
	size_t  i, n;

	for (i = 0; i < 2 && cents < units[i].unit; i++)
		continue;
	frac = (cents % units[i].unit) * 100 / units[i].unit;
	if (frac == 0)
		snprintf(buf, len, "%lld%s", (long long)(cents / units[i].unit),
		    units[i].suffix);
	else {
		snprintf(buf, len, "%lld.%02lld",
		    (long long)(cents / units[i].unit), (long long)frac);
		/* "2.50" is "2.5". */
		if ((n = strlen(buf)) > 0 && buf[n - 1] == '0')
			buf[n - 1] = '\0';
		strncat(buf, units[i].suffix, len - strlen(buf) - 1);
	}
	return (buf);
}

static void
svg_begin(struct svg_chart *c)
{
	const Budget__Contract *k = c->d->contract;

	fprintf(c->fp,
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	    "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"%s\" "
	    "font-size=\"12\" fill=\"%s\">\n",
	    SVG_WIDTH, SVG_HEIGHT, SVG_WIDTH, SVG_HEIGHT, SVG_FONT, SVG_INK);
	fputs("<title>Draw-down of contract ", c->fp);
	svg_text(c->fp, k->id);
	fputs("</title>\n<desc>Budget against cumulative committed (committed "
	      "+ paid) and paid at the end of each month, in euros, from "
	      "budgetd.</desc>\n",
	    c->fp);
	fprintf(c->fp,
	    "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" "
	    "fill=\"#ffffff\"/>\n",
	    SVG_WIDTH, SVG_HEIGHT);
}

/* The title, and under it where the contract stands at the last month. */
static void
svg_title(struct svg_chart *c)
{
	const Budget__Contract      *k = c->d->contract;
	const Budget__DrawdownPoint *last = c->d->points[c->n - 1];
	int64_t                      used = svg_used(last), pm;

	fprintf(c->fp,
	    "<text x=\"%d\" y=\"32\" font-size=\"18\" "
	    "font-weight=\"bold\">Draw-down of contract ",
	    SVG_PLOT_LEFT);
	svg_text(c->fp, k->id);
	fputs(" (", c->fp);
	svg_text(c->fp, k->provider);
	fputs(", ", c->fp);
	svg_text(c->fp, k->framework);
	fputs(")</text>\n", c->fp);
	/* Per mille of the budget, in integers: money is never a double. */
	pm = last->budget_cents > 0 ? used * 1000 / last->budget_cents : 0;
	fprintf(c->fp,
	    "<text x=\"%d\" y=\"54\" font-size=\"13\" fill=\"#52606d\">"
	    "End of %s: budget %s EUR, committed + paid %s EUR "
	    "(%lld.%lld%%), paid %s EUR</text>\n",
	    SVG_PLOT_LEFT, last->month, out_amount(last->budget_cents),
	    out_amount(used), (long long)(pm / 10), (long long)(pm % 10),
	    out_amount(last->paid_cents));
}

/* Horizontal grid lines with their euro labels, and the two axes. */
static void
svg_grid(struct svg_chart *c)
{
	char    label[64];
	int64_t v;
	double  y;

	fprintf(c->fp, "<g stroke=\"%s\" stroke-width=\"1\">\n", SVG_GRID);
	for (v = c->step; v <= c->top; v += c->step)
		fprintf(c->fp,
		    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
		    c->x, svg_px_y(c, v), c->x + c->w, svg_px_y(c, v));
	fputs("</g>\n", c->fp);
	fputs("<g text-anchor=\"end\">\n", c->fp);
	for (v = 0; v <= c->top; v += c->step) {
		y = svg_px_y(c, v);
		fprintf(c->fp, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
		    c->x - 8, y + 4, svg_euros(v, label, sizeof(label)));
	}
	fputs("</g>\n", c->fp);
	fprintf(c->fp,
	    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
	    "font-weight=\"bold\">EUR</text>\n",
	    c->x - 8, c->y - 14);
	fprintf(c->fp,
	    "<path d=\"M%.1f %.1fV%.1fH%.1f\" fill=\"none\" stroke=\"%s\" "
	    "stroke-width=\"1\"/>\n",
	    c->x, c->y, c->y + c->h, c->x + c->w, SVG_INK);
}

/*
 * A label under every month's band, or under every k-th when there are
 * too many months for the width, with a tick on the axis.
 */
static void
svg_months(struct svg_chart *c)
{
	size_t every, max, i;
	double mid, base = c->y + c->h;

	max = (size_t)(c->w / SVG_MONTH_PIXELS);
	every = max > 0 && c->n > max ? (c->n + max - 1) / max : 1;
	fputs("<g text-anchor=\"middle\">\n", c->fp);
	for (i = 0; i < c->n; i += every) {
		mid = (svg_px_x(c, i) + svg_px_x(c, i + 1)) / 2;
		fprintf(c->fp,
		    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
		    "stroke=\"%s\"/>\n",
		    mid, base, mid, base + 4, SVG_INK);
		fprintf(c->fp, "<text x=\"%.1f\" y=\"%.1f\">", mid, base + 18);
		svg_text(c->fp, c->d->points[i]->month);
		fputs("</text>\n", c->fp);
	}
	fputs("</g>\n", c->fp);
}

/* A series as a filled area, stepping month by month, with its edge. */
static void
svg_area(struct svg_chart *c, svg_series f, const char *fill, const char *line)
{
	double base = c->y + c->h;
	size_t i;

	fprintf(c->fp, "<path d=\"M%.1f %.1f", c->x, base);
	for (i = 0; i < c->n; i++)
		fprintf(c->fp, "V%.1fH%.1f", svg_px_y(c, f(c->d->points[i])),
		    svg_px_x(c, i + 1));
	fprintf(c->fp,
	    "V%.1fZ\" fill=\"%s\" stroke=\"%s\" stroke-width=\"1.5\" "
	    "stroke-linejoin=\"round\"/>\n",
	    base, fill, line);
}

/* A series as a line stepping month by month; dash NULL: solid. */
static void
svg_step(struct svg_chart *c, svg_series f, const char *color, double width,
    const char *dash)
{
	size_t i;

	fprintf(c->fp, "<path d=\"M%.1f %.1f", c->x,
	    svg_px_y(c, f(c->d->points[0])));
	for (i = 0; i < c->n; i++)
		fprintf(c->fp, "V%.1fH%.1f", svg_px_y(c, f(c->d->points[i])),
		    svg_px_x(c, i + 1));
	fprintf(c->fp,
	    "\" fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\" "
	    "stroke-linejoin=\"round\"%s%s%s/>\n",
	    color, width, dash != NULL ? " stroke-dasharray=\"" : "",
	    dash != NULL ? dash : "", dash != NULL ? "\"" : "");
}

/*
 * One legend item at *x: a line swatch (dash NULL: solid) or, with fill,
 * a box; *x moves past its label. Label widths are estimated from their
 * length (no font metrics here), generously, so that items never touch.
 */
static void
svg_legend_item(struct svg_chart *c, double *x, double y, const char *label,
    const char *fill, const char *line, const char *dash)
{
	if (fill != NULL)
		fprintf(c->fp,
		    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"12\" "
		    "fill=\"%s\" stroke=\"%s\"/>\n",
		    *x, y - 10, SVG_SWATCH, fill, line);
	else
		fprintf(c->fp,
		    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
		    "stroke=\"%s\" stroke-width=\"2.5\"%s%s%s/>\n",
		    *x, y - 4, *x + SVG_SWATCH, y - 4, line,
		    dash != NULL ? " stroke-dasharray=\"" : "",
		    dash != NULL ? dash : "", dash != NULL ? "\"" : "");
	fprintf(c->fp, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
	    *x + SVG_SWATCH + SVG_SWATCH_GAP, y, label);
	*x += SVG_SWATCH + SVG_SWATCH_GAP +
	    (double)strlen(label) * 12 * SVG_CHAR_EM + SVG_ITEM_GAP;
}

/* One row of legend items under the month labels, and a note on time. */
static void
svg_legend(struct svg_chart *c)
{
	double y = c->y + c->h + 52, x = c->x;

	fputs("<g font-size=\"12\">\n", c->fp);
	svg_legend_item(c, &x, y, "Budget", NULL, SVG_BUDGET, NULL);
	svg_legend_item(c, &x, y, "Committed + paid (cumulative committed)",
	    SVG_USED_FILL, SVG_USED_LINE, NULL);
	svg_legend_item(c, &x, y, "Paid", SVG_PAID_FILL, SVG_PAID_LINE, NULL);
	if (c->reserved)
		svg_legend_item(c, &x, y, "+ reserved (pending quotes)", NULL,
		    SVG_RESERVED, "6 3");
	fputs("</g>\n", c->fp);
	fprintf(c->fp,
	    "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
	    "fill=\"#7b8794\">Each month shows the contract at its end "
	    "(journal time, Europe/Brussels).</text>\n",
	    c->x, y + 24);
}

static void
svg_end(struct svg_chart *c)
{
	fputs("</svg>\n", c->fp);
}

/*
 * The whole chart of d into fp. Returns 0, or -1 when there is nothing to
 * draw (no month) or writing failed (see ferror).
 */
int
ctl_svg_drawdown(FILE *fp, const Budget__DrawdownResult *d)
{
	struct svg_chart c;

	if (d->contract == NULL || d->n_points == 0)
		return (-1);
	memset(&c, 0, sizeof(c));
	c.fp = fp;
	c.d = d;
	c.n = d->n_points;
	c.x = SVG_PLOT_LEFT;
	c.y = SVG_PLOT_TOP;
	c.w = SVG_WIDTH - SVG_PLOT_LEFT - SVG_PLOT_RIGHT;
	c.h = SVG_HEIGHT - SVG_PLOT_TOP - SVG_PLOT_BOTTOM;
	svg_scale(&c);

	svg_begin(&c);
	svg_title(&c);
	svg_grid(&c);
	/* Back to front: what was given away, what of it was paid. */
	svg_area(&c, svg_used, SVG_USED_FILL, SVG_USED_LINE);
	svg_area(&c, svg_paid, SVG_PAID_FILL, SVG_PAID_LINE);
	if (c.reserved)
		svg_step(&c, svg_usage, SVG_RESERVED, 2, "6 3");
	svg_step(&c, svg_budget, SVG_BUDGET, 2.5, NULL);
	svg_months(&c);
	svg_legend(&c);
	svg_end(&c);
	return (ferror(fp) ? -1 : 0);
}
