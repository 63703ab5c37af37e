-- Grain: order_date x product_id, over order lines of orders that are not cancelled.
select
    order_date,
    product_id,
    cast(sum(quantity) as bigint) as quantity,
    round(sum(line_revenue), 2) as revenue,
    count(distinct order_id) as order_count
from {{ ref('int_order_lines_enriched') }}
where not is_cancelled
group by order_date, product_id
