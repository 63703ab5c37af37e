-- One row per order with its line totals (orders without lines get 0).
with orders as (
    select * from {{ ref('stg_orders__orders') }}
),

lines as (
    select
        order_id,
        count(*) as line_count,
        sum(quantity) as item_count,
        sum(line_revenue) as order_revenue
    from {{ ref('int_order_lines_enriched') }}
    group by order_id
)

select
    orders.order_id,
    orders.customer_id,
    orders.order_date,
    orders.status,
    orders.status = 'cancelled' as is_cancelled,
    coalesce(lines.line_count, 0) as line_count,
    cast(coalesce(lines.item_count, 0) as bigint) as item_count,
    round(coalesce(lines.order_revenue, 0), 2) as order_revenue
from orders
left join lines on lines.order_id = orders.order_id
